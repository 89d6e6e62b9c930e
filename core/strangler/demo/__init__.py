"""The demo estate: small legacy servers and data that ship with strangler."""
