"""Clerk's side: the Backend API client and its transport, payload readers, session tokens. No models, no DRF."""
