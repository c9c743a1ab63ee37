"""One module per signal a photo carries beyond its look (text in it, its place, faces and people)."""
