"""What the CLI and the dashboard both do with a store: documents to show, actions to take.

Functions here return data and raise QueuectlError; they never print. cli/ formats them, web/
serves them; neither front end holds a second copy."""
