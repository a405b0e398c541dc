"""releasegate.policy"""
