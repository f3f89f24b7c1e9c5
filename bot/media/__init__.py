"""What the bot reads out of media that members post (the QR code in a picture)."""
