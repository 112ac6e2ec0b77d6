"""Outbound benchmark: queue template messages, drain them through the simulator."""
