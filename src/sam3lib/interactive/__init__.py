"""Interactive segmentation: clicks, boxes and masks in, one object's mask out; and automatic
masks."""
