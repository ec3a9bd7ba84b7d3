"""dmlab's reference peers (DM, delegation, bootstrap), built on dmclient."""
