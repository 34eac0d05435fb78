"""encoderscope.report"""
