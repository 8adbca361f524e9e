"""The HTTP edge shared by the API functions: authorization, models, error mapping."""
