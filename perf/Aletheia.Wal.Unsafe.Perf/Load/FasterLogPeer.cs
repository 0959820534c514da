using FASTER.core;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// Microsoft FASTER's <see cref="FasterLog"/> (2.6.5) on a local storage device with AutoCommit:
/// enqueue, then wait until the commit covers the record (what
/// <see cref="FasterLog.EnqueueAndWaitForCommit(ReadOnlySpan{byte})"/> does internally); async, its own
/// <see cref="FasterLog.EnqueueAndWaitForCommitAsync(ReadOnlyMemory{byte}, CancellationToken)"/>; burst, enqueue from the
/// producers, then one <see cref="FasterLog.Commit(bool)"/> that spins until the commit is done (<c>autoCommit: false</c>:
/// with AutoCommit every page flushed during the burst would commit on its own).
/// By default each commit writes a new commit-metadata file; <c>fastCommit: true</c> sets
/// <see cref="FasterLogSettings.FastCommitMode"/>, which records commits in the log itself.
/// </summary>
public sealed class FasterLogPeer : IDurableLog, IAsyncDurableLog<long>, IBurstLog
{
    private readonly IDevice _device;
    private readonly FasterLog _log;
    private readonly bool _fastCommit;
    private readonly bool _autoCommit;

    public FasterLogPeer(string directory, bool fastCommit = false, bool autoCommit = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _fastCommit = fastCommit;
        _autoCommit = autoCommit;
        _device = Devices.CreateLogDevice(Path.Combine(directory, "hlog.log"));
        try
        {
            _log = new FasterLog(new FasterLogSettings
            {
                LogDevice = _device,
                LogCommitDir = directory,
                AutoCommit = autoCommit,
                FastCommitMode = fastCommit,
            });
        }
        catch
        {
            _device.Dispose();
            throw;
        }
    }

    public string Name => (_autoCommit ? "fasterlog-autocommit" : "fasterlog") + (_fastCommit ? "-fastcommit" : "");

    public void AppendDurable(ReadOnlySpan<byte> payload)
    {
        long address = _log.Enqueue(payload);
        _log.WaitForCommit(address + 1);
    }

    public ValueTask<long> AppendDurableAsync(ReadOnlyMemory<byte> payload) => _log.EnqueueAndWaitForCommitAsync(payload);

    public void Append(ReadOnlySpan<byte> payload) => _log.Enqueue(payload);

    public void Flush() => _log.Commit(spinWait: true);

    /// <summary>Scans the committed log: exactly <paramref name="records"/> entries, each of <paramref name="payloadBytes"/>.</summary>
    public string Verify(long records, int payloadBytes)
    {
        long count = 0;
        using (FasterLogScanIterator iterator = _log.Scan(_log.BeginAddress, _log.CommittedUntilAddress))
        {
            while (iterator.GetNext(out byte[] entry, out int length, out _))
            {
                if (length != payloadBytes)
                {
                    throw new InvalidDataException($"Entry {count} has {length} bytes, not {payloadBytes}.");
                }

                GC.KeepAlive(entry);
                count++;
            }
        }

        return count == records
            ? $"scanned: {count:N0} committed entries of {payloadBytes} B"
            : throw new InvalidDataException($"The committed log holds {count:N0} entries; {records:N0} were enqueued and committed.");
    }

    public void Dispose()
    {
        _log.Dispose();
        _device.Dispose();
    }
}
