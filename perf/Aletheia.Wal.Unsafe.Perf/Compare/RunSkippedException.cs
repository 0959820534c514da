namespace Aletheia.Wal.Perf.Compare;

/// <summary>A run that cannot take place here (not a failure of the peer): reported as skipped, with the reason.</summary>
internal sealed class RunSkippedException(string message) : Exception(message);
