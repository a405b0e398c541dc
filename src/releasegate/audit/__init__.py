"""releasegate.audit"""
