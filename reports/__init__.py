"""mixforge.reports"""
