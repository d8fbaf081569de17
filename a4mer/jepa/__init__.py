"""JEPA pretext task: masking, predictor, EMA target, loss, the stage model."""
