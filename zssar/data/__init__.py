"""Skeleton data: layouts, the SkeletonSet container, dataset readers, splits and the protocol."""
