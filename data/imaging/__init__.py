"""Images as the network sees them: the one `preprocess` every path uses, previews, heatmaps."""
