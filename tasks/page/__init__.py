"""The seed page: rows shaped for templates (model), HTML (render), one day built (build)."""
