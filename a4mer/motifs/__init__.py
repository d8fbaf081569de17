"""Action motifs: k-means codes, contiguous frequent patterns, minimum cover, the vocabulary."""
