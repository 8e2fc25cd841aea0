"""A delivery on its way in: the body read, its signature verified, its JSON parsed, its refusal counted."""
