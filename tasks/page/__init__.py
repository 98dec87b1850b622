"""The seed page: rows shaped for templates (model), one day built as HTML (render)."""
