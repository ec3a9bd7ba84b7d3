"""Server delegation: the server-to-server message model and schema, and (to come) the
state machines that run the four methods for DMS-1 and DMS-2."""
