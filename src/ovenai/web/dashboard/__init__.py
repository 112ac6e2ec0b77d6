"""The dashboard: server-rendered, Hebrew-first pages for agents and owners."""
