using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// Recovery: this log writes a log of 1 KiB records (setup, not measured) and closes it; then either the log reopens it and
/// reads every record (<c>aletheia</c>: <see cref="WriteAheadLog.Open"/>, then a <see cref="WalReader"/> from the oldest
/// record, each record's size checked and the count compared with what was written), or every file of its directory is read
/// sequentially with one 1 MiB buffer, nothing parsed (<c>cat</c>). Warm: one untimed read of every file first, so both
/// start from the page cache. Cold: <c>sync</c>, then <c>echo 3 &gt; /proc/sys/vm/drop_caches</c>; skipped when that is not
/// permitted. MB/s is the log's payload over the time taken, for both readers.
/// </summary>
internal static class RecoveryDriver
{
    public const int PayloadBytes = 1024;

    private const string DropCaches = "/proc/sys/vm/drop_caches";

    public static Measured Run(string peer, string directory, long payloadTarget, bool cold)
    {
        long records = Write(directory, payloadTarget);
        long fileBytes = ReadAllFiles(directory); // warm: the files are in the page cache, whatever the write left out
        if (cold)
        {
            DropPageCache();
        }

        long started = Stopwatch.GetTimestamp();
        string note;
        long read;
        if (peer == "aletheia")
        {
            read = ReadLog(directory);
            if (read != records)
            {
                throw new InvalidDataException($"The reopened log holds {read:N0} records; {records:N0} were written.");
            }

            note = $"reopened: {read:N0} records of {PayloadBytes} B, as written";
        }
        else
        {
            read = ReadAllFiles(directory);
            note = $"read {read:N0} bytes in {Directory.GetFiles(directory).Length} files ({fileBytes:N0} on the warm-up read)";
        }

        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double payload = records * (double)PayloadBytes;
        return new Measured(peer == "aletheia" ? records / seconds : null, payload / seconds / 1e6, null, null, null, records, seconds, note);
    }

    private static long Write(string directory, long payloadTarget)
    {
        long records = Math.Max(1, payloadTarget / PayloadBytes);
        byte[] payload = new byte[PayloadBytes];
        Random.Shared.NextBytes(payload);
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        for (long i = 0; i < records; i++)
        {
            log.Append(payload);
        }

        log.Flush();
        return records;
    }

    private static long ReadLog(string directory)
    {
        long count = 0;
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        using WalReader reader = log.ReadFrom(log.OldestLsn);
        while (reader.TryRead(out WalRecord record))
        {
            if (record.Payload.Length != PayloadBytes)
            {
                throw new InvalidDataException($"Record {record.Lsn} has {record.Payload.Length} bytes, not {PayloadBytes}.");
            }

            count++;
        }

        return count;
    }

    private static long ReadAllFiles(string directory)
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(1024 * 1024);
        long total = 0;
        foreach (string path in Directory.GetFiles(directory).Order(StringComparer.Ordinal))
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.SequentialScan);
            long offset = 0;
            int n;
            while ((n = RandomAccess.Read(file, buffer, offset)) > 0)
            {
                offset += n;
            }

            total += offset;
        }

        return total;
    }

    private static void DropPageCache()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new RunSkippedException("cold cache: dropping the page cache is done through /proc/sys/vm/drop_caches, Linux only");
        }

        using (Process sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false }) ?? throw new RunSkippedException("cold cache: could not start 'sync'"))
        {
            if (!sync.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                throw new TimeoutException("'sync' did not finish within 2 minutes.");
            }
        }

        try
        {
            File.WriteAllText(DropCaches, "3");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new RunSkippedException($"cold cache: cannot write {DropCaches} ({e.Message}); run as root to measure it");
        }
    }
}
