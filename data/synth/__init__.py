"""Data the project makes itself: rendered digits and non-digits, training augmentation."""
