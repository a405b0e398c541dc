"""releasegate.guards"""
