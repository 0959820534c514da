namespace Aletheia.Wal.Perf.Load;

/// <summary>This library as a load-driver peer: <see cref="WriteAheadLog.AppendDurable"/> with default options.</summary>
public sealed class AletheiaLog : IDurableLog
{
    private readonly WriteAheadLog _log;

    public AletheiaLog(string directory)
    {
        _log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        _log.TestHookWaitForPreparedSegment(); // the next segment's zero-fill is start-up work, not part of the load
    }

    public string Name => "aletheia";

    public void AppendDurable(ReadOnlySpan<byte> payload) => _log.AppendDurable(payload);

    public void Dispose() => _log.Dispose();
}
