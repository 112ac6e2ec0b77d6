"""Meta WhatsApp webhooks: signature check over raw bytes, then parsing into typed events."""
