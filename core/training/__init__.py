"""The fine-tuning engine shared by every app (``transformers.Trainer`` + ``peft``), one job per module.

Plugins use it through the public API: ``from core import TrainingParts, run_training, train_recipe``.
"""
