"""Anonymous resident pages, reached through an asset's unguessable link (QR code)."""
