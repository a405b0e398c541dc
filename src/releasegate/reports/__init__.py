"""releasegate.reports"""
