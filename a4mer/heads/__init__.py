"""Generation heads: classical baselines (numpy), span quality, learned in-betweening / extension (torch)."""
