"""Reading photos and videos: decoding, RAW previews, video keyframes."""
