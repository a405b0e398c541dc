"""releasegate.assess"""
