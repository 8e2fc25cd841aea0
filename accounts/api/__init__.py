"""The API: Clerk session-token authentication, the active organization, permissions, views."""
