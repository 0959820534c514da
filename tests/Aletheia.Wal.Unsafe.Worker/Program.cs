namespace Aletheia.Wal.Worker;

/// <summary>
/// A separate process for the tests that need one: <c>hold-lock DIR</c> opens the log in DIR, prints "open" and keeps it
/// open until its standard input closes or gets a line; it exits 3 if Open throws a WalException (the lock is taken).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "hold-lock")
        {
            return HoldLock(args[1]);
        }

        Console.Error.WriteLine("usage: hold-lock DIR");
        return 2;
    }

    private static int HoldLock(string directory)
    {
        try
        {
            using var log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20 });
            Console.WriteLine("open");
            Console.Out.Flush();
            Console.In.ReadLine();
            return 0;
        }
        catch (WalException e)
        {
            Console.WriteLine($"locked: {e.Message}");
            return 3;
        }
    }
}
