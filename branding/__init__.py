"""Brands for support modules: the validated model (:mod:`branding.model`), colour maths
(:mod:`branding.colors`) and the rendered icons, banner and preview (:mod:`branding.render`).

Depends on Pillow and the standard library only.
"""

from branding.model import Brand, BrandError, default_brand

__all__ = ["Brand", "BrandError", "default_brand"]
