"""The drop-in implementation of the original Couler SDK's ``couler.core`` package."""
