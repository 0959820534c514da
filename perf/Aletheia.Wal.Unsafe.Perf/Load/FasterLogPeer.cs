using FASTER.core;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// Microsoft FASTER's <see cref="FasterLog"/> (2.6.5) on a local storage device with AutoCommit:
/// enqueue, then wait until the commit covers the record (what
/// <see cref="FasterLog.EnqueueAndWaitForCommit(ReadOnlySpan{byte})"/> does internally).
/// By default each commit writes a new commit-metadata file; <c>fastCommit: true</c> sets
/// <see cref="FasterLogSettings.FastCommitMode"/>, which records commits in the log itself.
/// </summary>
public sealed class FasterLogPeer : IDurableLog
{
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly bool _fastCommit;

    public FasterLogPeer(string directory, bool fastCommit = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _fastCommit = fastCommit;
        _device = Devices.CreateLogDevice(Path.Combine(directory, "hlog.log"));
        try
        {
            _log = new FasterLog(new FasterLogSettings
            {
                LogDevice = _device,
                LogCommitDir = directory,
                AutoCommit = true,
                FastCommitMode = fastCommit,
            });
        }
        catch
        {
            _device.Dispose();
            throw;
        }
    }

    public string Name => _fastCommit ? "fasterlog-autocommit-fastcommit" : "fasterlog-autocommit";

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        long address = _log.Enqueue(payload);
        _log.WaitForCommit(address + 1);
    }

    public void Dispose()
    {
        _log.Dispose();
        _device.Dispose();
    }
}
