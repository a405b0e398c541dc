"""releasegate.backends"""
