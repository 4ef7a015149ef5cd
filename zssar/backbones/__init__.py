"""Skeleton backbones, seen-class pretraining and the feature cache."""
