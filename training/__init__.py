"""Train, evaluate, export and publish detectors. The only package that imports torch and ultralytics."""
