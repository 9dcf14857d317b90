"""vlmrobust.models: role-based adapters (ImageTextScorer, GenerativeVLM, EmbeddingModel, FeatureExtractor), registry, tiny models."""
