"""encoderscope.nave"""
