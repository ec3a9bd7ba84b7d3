"""SyncML DM on the wire: the message model, its XML and WBXML codecs, status codes."""
