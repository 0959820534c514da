using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>A log whose last write, a batch of several records, was torn: recovery drops exactly that batch.</summary>
internal static class TornLog
{
    /// <summary>
    /// Writes 20 records one batch each, then records 22 to 30 as one batch (held back behind record 21's write, so that
    /// the flush thread takes them together), and overwrites bytes inside that last batch's last frame, as a write cut
    /// short leaves it.
    /// </summary>
    /// <returns>The records recovery keeps (LSNs 1 to Kept) and drops (the next Dropped).</returns>
    public static (ulong Kept, ulong Dropped) Write(string directory)
    {
        var storage = new FaultyStorage();
        using (var held = new HeldWrites(storage))
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 1 }, storage))
        {
            for (int i = 0; i < 20; i++)
            {
                log.AppendDurable(Payloads.Make(1, i, 100));
            }

            held.Hold();
            log.Append(Payloads.Make(1, 20, 100));
            held.WaitUntilInWrite();
            for (int i = 21; i < 30; i++)
            {
                log.Append(Payloads.Make(1, i, 100));
            }

            held.Release();
            log.Flush();
        }

        LayoutUnit last = LogLayout.Read(directory).Units.Last(u => u.Kind == UnitKind.Batch);
        Assert.Equal((22ul, 9), (last.FirstLsn, last.Records)); // the nine records held back went in one write
        SegmentFiles.Patch(last.Path, last.End - 60, new byte[] { 0xFF, 0x00, 0xAA, 0x55 }); // inside the last payload (100 bytes)
        return (last.FirstLsn - 1, (ulong)last.Records);
    }
}
