"""The fields the mirror keeps of Clerk's objects beyond names and ids (flags, metadata), as abstract models."""
