"""The lab beside the product: benchmarks, soak runs and the side-by-side with the fer package.

Run from a checkout (`python -m benchmarks.bench`), as `training/` is; nothing here ships in the
wheel, and the product never imports it.
"""
