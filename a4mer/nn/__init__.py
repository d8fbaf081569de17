"""Torch building blocks: attention blocks, embeddings, segment encoder, LatentFormer."""
