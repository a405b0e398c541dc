"""releasegate.gateway"""
