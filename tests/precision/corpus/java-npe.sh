# A JVM program whose JIT-compiled loop dereferences null inside try/catch: HotSpot's implicit
# null checks are SIGSEGVs at JIT code, handled by JVM_handle_linux_signal.
# quick: no
# tries: 1
setup() {
    cat > Npe.java <<'JAVA'
public class Npe {
    static int deref(int[] a) { return a.length; }
    public static void main(String[] args) {
        long caught = 0;
        for (int i = 0; i < 200000; i++) {
            try { deref((i % 1000 == 0) ? null : new int[1]); if (i % 1000 == 0) caught--; }
            catch (NullPointerException e) { caught++; }
        }
        int[] n = null;
        for (int i = 0; i < 100000; i++) {
            try { caught += n.length; } catch (NullPointerException e) { caught++; }
        }
        System.out.println(caught > 0 ? "ok" : "none");
    }
}
JAVA
    javac -d . Npe.java
}
run() { exec java -cp . Npe; }
