"""dmlab's handset: an emulated OMA DM 1.2 client, usable without the servers."""
