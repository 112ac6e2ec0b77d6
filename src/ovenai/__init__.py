"""OvenAI: lead management for real-estate agencies over WhatsApp."""

__version__ = "0.1.0"
